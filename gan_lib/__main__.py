import signal
import sys


def _terminated_while_starting(signum: int, frame: object) -> None:
    print("stopped by SIGTERM while starting: nothing was done or written", file=sys.stderr)
    sys.exit(143)


signal.signal(signal.SIGTERM, _terminated_while_starting)  # until main() installs its own: torch loads for seconds
try:
    from .runs.cli import main
except KeyboardInterrupt:  # while torch was still loading: nothing had started
    print("interrupted while starting: nothing was done or written", file=sys.stderr)
    sys.exit(130)

signal.signal(signal.SIGTERM, signal.SIG_DFL)  # main() says what a SIGTERM stopped from here on
sys.exit(main())
