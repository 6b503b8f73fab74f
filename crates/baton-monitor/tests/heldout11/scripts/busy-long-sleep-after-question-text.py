import time
print("Why did the build take so long? Let's look at the numbers:")
print("  compile   41.2s\n  link      12.9s\n  test      88.0s")
time.sleep(600)
