-- Sample "civil" source database (civil-status registers, Law on Civil
-- Status 2014).  Names are fixed: policies/routing.json and the C code refer
-- to them.  The unit column is nullable on purpose (bad rows must reach the
-- quarantine), hence REPLICA IDENTITY FULL.  Only primary keys are indexed.

-- birth (khai sinh)
CREATE TABLE khai_sinh (
    id                  bigint PRIMARY KEY,
    ma_dvhc_dang_ky     varchar(5),
    ngay_dang_ky        date,
    so                  text,
    quyen_so            text,
    ho_ten              text NOT NULL,
    ngay_sinh           date,
    gioi_tinh           text,
    dan_toc             text,
    quoc_tich           text,
    noi_sinh            text,
    que_quan            text,
    so_dinh_danh        varchar(12),
    ho_ten_me           text,
    nam_sinh_me         integer,
    ho_ten_cha          text,
    nam_sinh_cha        integer,
    nguoi_di_khai       text,
    giay_to_nguoi_khai  varchar(12),
    quan_he             text,
    can_bo_tu_phap      text,
    nguoi_ky            text
);

-- marriage (kết hôn)
CREATE TABLE ket_hon (
    id                   bigint PRIMARY KEY,
    ma_dvhc_dang_ky      varchar(5),
    ngay_dang_ky         date,
    so                   text,
    quyen_so             text,
    ho_ten_chong         text NOT NULL,
    ngay_sinh_chong      date,
    dan_toc_chong        text,
    so_dinh_danh_chong   varchar(12),
    ho_ten_vo            text NOT NULL,
    ngay_sinh_vo         date,
    dan_toc_vo           text,
    so_dinh_danh_vo      varchar(12),
    noi_cu_tru           text,
    can_bo_tu_phap       text,
    nguoi_ky             text
);

-- death (khai tử)
CREATE TABLE khai_tu (
    id                  bigint PRIMARY KEY,
    ma_dvhc_dang_ky     varchar(5),
    ngay_dang_ky        date,
    so                  text,
    quyen_so            text,
    ho_ten              text NOT NULL,
    ngay_sinh           date,
    gioi_tinh           text,
    so_dinh_danh        varchar(12),
    ngay_chet           date,
    noi_chet            text,
    nguyen_nhan         text,
    nguoi_di_khai       text,
    giay_to_nguoi_khai  varchar(12),
    quan_he             text,
    can_bo_tu_phap      text,
    nguoi_ky            text
);

ALTER TABLE khai_sinh REPLICA IDENTITY FULL;
ALTER TABLE ket_hon   REPLICA IDENTITY FULL;
ALTER TABLE khai_tu   REPLICA IDENTITY FULL;
