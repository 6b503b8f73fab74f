from picotui.context import Context
from picotui.screen import Screen
from picotui.widgets import *
from picotui.defs import *

with Context():
    Screen.attr_color(C_WHITE, C_BLUE)
    Screen.cls()
    Screen.attr_reset()
    d = Dialog(10, 5, 50, 8, title="Delete branch")
    d.add(2, 1, WLabel("Delete the local branch 'feature/login'?"))
    b = WButton(8, "OK")
    d.add(10, 4, b)
    b.finish_dialog = ACTION_OK
    b = WButton(8, "Cancel")
    d.add(24, 4, b)
    b.finish_dialog = ACTION_CANCEL
    res = d.loop()
print(res)
