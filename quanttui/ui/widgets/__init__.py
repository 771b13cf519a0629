"""The console's widgets: dumb views that copy what `quanttui.ui.views` computed onto the screen."""
