import sys

from chinwag.cli import main

sys.exit(main())
