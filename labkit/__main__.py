from .tools.cli import main

if __name__ == "__main__":  # guarded: worker processes of `compare` re-import the main module
    raise SystemExit(main())
