-- Shandong's sixteen prefecture-level cities, where the province Geomap puts them.
-- `city` is the contract's spelling (DeviceBirth's enterprise.city: lower-case pinyin); every
-- city the simulator uses is here (tests/integration/test_db_schema.py checks it).
-- Reference data, the same on both paths: a plain table, seeded once; a correction is a new
-- migration.
CREATE TABLE IF NOT EXISTS city (
    city      text PRIMARY KEY,
    name_zh   text NOT NULL,
    name_en   text NOT NULL,
    latitude  double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180)
);

INSERT INTO city (city, name_zh, name_en, latitude, longitude) VALUES
    ('jinan', '济南', 'Jinan', 36.65, 117.12),
    ('qingdao', '青岛', 'Qingdao', 36.07, 120.38),
    ('zibo', '淄博', 'Zibo', 36.81, 118.05),
    ('zaozhuang', '枣庄', 'Zaozhuang', 34.81, 117.32),
    ('dongying', '东营', 'Dongying', 37.43, 118.67),
    ('yantai', '烟台', 'Yantai', 37.46, 121.45),
    ('weifang', '潍坊', 'Weifang', 36.71, 119.16),
    ('jining', '济宁', 'Jining', 35.41, 116.59),
    ('taian', '泰安', 'Tai''an', 36.20, 117.09),
    ('weihai', '威海', 'Weihai', 37.51, 122.12),
    ('rizhao', '日照', 'Rizhao', 35.42, 119.53),
    ('linyi', '临沂', 'Linyi', 35.10, 118.36),
    ('dezhou', '德州', 'Dezhou', 37.43, 116.36),
    ('liaocheng', '聊城', 'Liaocheng', 36.46, 115.99),
    ('binzhou', '滨州', 'Binzhou', 37.38, 117.97),
    ('heze', '菏泽', 'Heze', 35.23, 115.48)
ON CONFLICT (city) DO NOTHING;

CREATE OR REPLACE VIEW v_city AS
SELECT city, name_zh, name_en, latitude, longitude FROM city;
