from picotui.context import Context
from picotui.screen import Screen
from picotui.widgets import *
from picotui.defs import *

with Context():
    Screen.attr_color(C_WHITE, C_BLUE)
    Screen.cls()
    Screen.attr_reset()
    d = Dialog(5, 2, 50, 12, title="Timezone")
    d.add(1, 1, WLabel("Choose the server's timezone:"))
    w = WListBox(24, 5, ["Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "UTC"])
    d.add(1, 3, w)
    b = WButton(8, "OK")
    d.add(30, 3, b)
    b.finish_dialog = ACTION_OK
    res = d.loop()
print(res)
