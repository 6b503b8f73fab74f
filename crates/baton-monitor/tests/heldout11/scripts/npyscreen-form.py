import npyscreen
class App(npyscreen.NPSApp):
    def main(self):
        f = npyscreen.Form(name="New deployment")
        f.add(npyscreen.TitleText, name="Service name:")
        f.add(npyscreen.TitleSelectOne, max_height=4, name="Region", values=["eu-west-1", "us-east-1"], scroll_exit=True)
        f.edit()
App().run()
