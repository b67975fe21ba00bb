ALTER TABLE patients DROP COLUMN course_stamp;
