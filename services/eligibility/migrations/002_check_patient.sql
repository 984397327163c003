-- The patient of a check when it is not the subscriber (a dependent on the subscriber's plan);
-- JSON null when the patient is the subscriber.
ALTER TABLE checks ADD COLUMN patient jsonb NOT NULL DEFAULT 'null';
