import typer

def main(name: str = typer.Option(..., prompt="Name of the new service")):
    print(f"creating {name}")

typer.run(main)
