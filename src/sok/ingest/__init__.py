"""Files to passages: extract text, repair it, find the documents inside a file, cut passages."""
