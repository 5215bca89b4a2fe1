-- One database per Sandbank process on the compose PostgreSQL; every service owns its
-- own and never reads another's. Runs once, when the data volume is first created.
CREATE DATABASE accounts OWNER sandbank;
CREATE DATABASE payments OWNER sandbank;
CREATE DATABASE securities OWNER sandbank;
CREATE DATABASE insurance OWNER sandbank;
CREATE DATABASE gateway OWNER sandbank;
