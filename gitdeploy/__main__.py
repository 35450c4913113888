import sys

from gitdeploy.cli import main

sys.exit(main())
