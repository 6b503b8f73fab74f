import pyinputplus as pyip
answer = pyip.inputYesNo("Overwrite the existing virtualenv? ")
print(answer)
