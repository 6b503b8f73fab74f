import maskpass
token = maskpass.askpass(prompt="API token:", mask="#")
