DROP TABLE clinic_instruments;
