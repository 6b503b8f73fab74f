print("Found 3 databases: main, audit, cache")
input("Name of the database to drop (type it again to confirm) ")
