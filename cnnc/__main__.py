from cnnc.cli import main
import sys
sys.exit(main())
