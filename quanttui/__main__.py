from quanttui.cli import main

if __name__ == "__main__":  # a spawned helper process (trace analysis) imports this module too
    raise SystemExit(main())
