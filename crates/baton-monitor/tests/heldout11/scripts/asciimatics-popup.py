from asciimatics.screen import Screen
from asciimatics.scene import Scene
from asciimatics.widgets import PopUpDialog
def demo(screen):
    screen.play([Scene([PopUpDialog(screen, "Overwrite the existing report?", ["Yes", "No"])], -1)], stop_on_resize=True)
Screen.wrapper(demo)
