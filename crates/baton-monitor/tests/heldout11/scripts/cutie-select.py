import cutie
print('Which environment should the migration run against?')
cutie.select(['development', 'staging', 'production'])
