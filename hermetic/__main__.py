from hermetic.cli import main

raise SystemExit(main())
