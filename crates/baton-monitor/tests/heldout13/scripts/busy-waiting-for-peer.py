import time
print("Code is: 7-crossword-alpha")
print("Waiting for the receiver to accept the transfer...")
time.sleep(600)
