import cutie
cutie.prompt_yes_or_no('Rebuild the search index now?')
