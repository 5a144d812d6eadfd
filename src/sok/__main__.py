import sys

from sok.ui.cli import main

sys.exit(main())
