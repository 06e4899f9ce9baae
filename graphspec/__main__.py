from graphspec.cli import main

raise SystemExit(main())
