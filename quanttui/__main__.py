from quanttui.cli import main

raise SystemExit(main())
