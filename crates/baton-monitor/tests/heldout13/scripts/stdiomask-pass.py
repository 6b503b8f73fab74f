import stdiomask
print("Unlocking the vault.")
password = stdiomask.getpass(prompt="Vault password: ")
