from consolemenu import ConsoleMenu
from consolemenu.items import FunctionItem
m = ConsoleMenu("Database tools", "Choose what to do")
m.append_item(FunctionItem("Back up the database", print))
m.append_item(FunctionItem("Restore a backup", print))
m.show()
