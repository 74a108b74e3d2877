import sys

from glassgrad.cli import main

sys.exit(main())
