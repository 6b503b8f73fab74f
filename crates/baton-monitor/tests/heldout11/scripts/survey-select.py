import survey
survey.routines.select('Pick a license for the project: ', options=('MIT', 'Apache-2.0', 'GPL-3.0'))
