import sys

try:
    from .cli import main
except KeyboardInterrupt:  # while torch was still loading: nothing had started
    print("interrupted while starting: nothing was done or written", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
