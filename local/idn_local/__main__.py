import sys

from idn_local.cli import main

sys.exit(main())
