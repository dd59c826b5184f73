DROP TABLE IF EXISTS {{.Prefix}}ceremonies;
DROP TABLE IF EXISTS {{.Prefix}}credentials;
DROP TABLE IF EXISTS {{.Prefix}}users;
