from cnnlab.cli import run

if __name__ == "__main__":  # `python -m cnnlab`; importing this module runs nothing
    run()
