from cleo.application import Application
from cleo.commands.command import Command

class Clean(Command):
    name = "clean"
    def handle(self):
        if self.confirm("Remove the build directory?", False):
            self.line("removed")

app = Application()
app.add(Clean())
app.run()
