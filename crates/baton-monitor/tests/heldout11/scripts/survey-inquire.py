import survey
survey.routines.inquire('Push the tag to origin? ', default=True)
