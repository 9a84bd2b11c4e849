import sys

from cnnc.cli import main

sys.exit(main())
