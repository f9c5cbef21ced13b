"""python -m helpdesk.cli"""

import sys

from helpdesk.cli import main

sys.exit(main())
