from research.cli import main

raise SystemExit(main())
