import time
print("Available targets:")
print("  1) build")
print("  2) test")
print("  3) deploy")
print("Running target 1 (build) as configured in .targets")
time.sleep(600)
