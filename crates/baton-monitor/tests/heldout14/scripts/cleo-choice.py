from cleo.application import Application
from cleo.commands.command import Command

class Setup(Command):
    name = "setup"
    def handle(self):
        self.line("Setting up the project.")
        driver = self.choice("Which database driver should be used?", ["postgres", "mysql", "sqlite"], 0)
        self.line(driver)

app = Application()
app.add(Setup())
app.run()
