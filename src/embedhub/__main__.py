from embedhub.cli.main import main

raise SystemExit(main())
