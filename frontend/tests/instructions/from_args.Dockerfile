FROM alpine build
