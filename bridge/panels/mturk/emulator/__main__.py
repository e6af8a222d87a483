import sys

from bridge.panels.mturk.emulator.server import _main

sys.exit(_main())
