import sys

from gitdeploy.cli.main import main

sys.exit(main())
