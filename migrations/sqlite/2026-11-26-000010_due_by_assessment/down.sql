DROP INDEX due_ratings_by_assessment;
