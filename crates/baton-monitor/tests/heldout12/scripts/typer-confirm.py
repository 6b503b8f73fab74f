import typer

def main():
    delete = typer.confirm("Are you sure you want to delete the release v2.3.1?")
    print(delete)

typer.run(main)
