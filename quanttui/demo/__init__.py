"""`quanttui demo`: the main job on an embedded default that needs no GPU."""
