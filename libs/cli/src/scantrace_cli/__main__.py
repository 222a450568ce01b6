import sys

from scantrace_cli.main import main

sys.exit(main())
