import pyinputplus as pyip
print("Two Python versions are installed.")
version = pyip.inputMenu(["3.11", "3.12"], numbered=True)
print(version)
